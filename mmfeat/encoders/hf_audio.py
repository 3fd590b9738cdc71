"""``hf-audio``: any transformers audio encoder with its feature extractor.

wav2vec2, HuBERT, WavLM (raw waveform), AST (filter banks) or the Whisper
encoder. The last hidden state is pooled over valid frames: padding added to
batch clips of different lengths is masked out of the mean.
"""
from dataclasses import dataclass
from typing import Literal


from mmfeat.encoders import ENCODERS
from mmfeat.encoders.audio import AudioEncoder, AudioParams
from mmfeat.encoders.hf_common import HFModelMixin, HFModelParams
from mmfeat.errors import MmfeatError


@dataclass(frozen=True, kw_only=True)
class HFAudioParams(AudioParams, HFModelParams):
    """``sample_rate`` must match the feature extractor's; it is checked at load."""

    pooling: Literal["mean", "cls", "pooler"] = "mean"


@ENCODERS.register("hf-audio")
class HFAudioEncoder(HFModelMixin, AudioEncoder):
    """Pools a transformers audio model's hidden states into one vector per clip (or chunk)."""

    Params = HFAudioParams

    def load(self):
        import torch
        from transformers import AutoFeatureExtractor, AutoModel

        self.extractor = self.from_pretrained(AutoFeatureExtractor)
        rate = getattr(self.extractor, "sampling_rate", self.params.sample_rate)
        if rate != self.params.sample_rate:
            raise MmfeatError(f"encoder.sample_rate is {self.params.sample_rate} but {self.params.model}'s "
                              f"feature extractor expects {rate}; set sample_rate: {rate}")
        model = self.from_pretrained(AutoModel)
        if getattr(model.config, "is_encoder_decoder", False):  # Whisper: the encoder alone
            model = model.get_encoder()
        self.model = model.eval()
        self._torch = torch

    def encode(self, items):
        torch = self._torch
        # The extractor adds an attention mask only for models trained with one; the others expect zero padding.
        inputs = self.extractor(list(items), sampling_rate=self.params.sample_rate, return_tensors="pt",
                                padding=True)
        with torch.inference_mode():
            out = self.model(**inputs)
            hidden = out.last_hidden_state
            if self.params.pooling == "pooler":
                if getattr(out, "pooler_output", None) is None:
                    raise MmfeatError(f"{type(self.model).__name__} has no pooler output; set encoder.pooling to mean")
                pooled = out.pooler_output
            elif self.params.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                pooled = self._masked_mean(hidden, [len(x) for x in items])
        return self.finish(pooled)

    def _masked_mean(self, hidden, lengths):
        """Mean over the frames that cover real samples (all frames if the model cannot tell)."""
        torch = self._torch
        to_frames = getattr(self.model, "_get_feat_extract_output_lengths", None)
        if to_frames is None or len(set(lengths)) == 1:
            return hidden.mean(dim=1)
        frames = to_frames(torch.tensor(lengths)).clamp(min=1, max=hidden.shape[1])
        mask = (torch.arange(hidden.shape[1])[None, :] < frames[:, None]).unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1)

    @property
    def dim(self):
        return int(self.model.config.hidden_size)
