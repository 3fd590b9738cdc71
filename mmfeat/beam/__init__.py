"""The only part of mmfeat that imports Apache Beam: thin DoFns around runner-agnostic steps,
and ``EncoderModelHandler`` (any encoder under Beam's ``RunInference``), imported on first use."""

__all__ = ["EncoderModelHandler"]


def __getattr__(name):
    if name == "EncoderModelHandler":
        from mmfeat.beam.model_handler import EncoderModelHandler

        return EncoderModelHandler
    raise AttributeError(f"module 'mmfeat.beam' has no attribute {name!r}")
