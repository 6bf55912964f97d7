"""Weight Match: predicts what `model.load_state_dict(...)` will do, from source."""

__version__ = "0.1.0"
