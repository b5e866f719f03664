"""How every process talks to Temporal: the payload codec and logging shared by the API and the
worker."""

from client.codec import EncryptionCodec, parse_keys, product_converter
from client.logs import JsonLines, configure_logging

__all__ = ["EncryptionCodec", "JsonLines", "configure_logging", "parse_keys", "product_converter"]
