"""The Tensor value type and its codecs: Avro, TF TensorProto, TF Serving JSON, V2, Seldon, numpy."""

from inferstream.tensors.tensor import DType, Tensor, TensorCodecError

__all__ = ["DType", "Tensor", "TensorCodecError"]
