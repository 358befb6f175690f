from .export import ExportStream

__all__ = ["ExportStream"]
