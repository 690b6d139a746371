"""What the tests and the benchmarks share: digits drawn as strokes, digits spoken by espeak-ng, the app's server, Chromium."""
