"""The two parts of the "Watch a network learn" page (app_pages/live.py): each a render() function."""
