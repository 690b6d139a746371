"""Figures used by one page each: app_pages/figures/NAME.py serves app_pages/NAME.py."""
