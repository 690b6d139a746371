"""Models of Deep Learning Live: one module per model, weights in models/weights/."""
