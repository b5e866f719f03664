"""How every process talks to Temporal: the connection, the product's plugin (data converter,
payload codec, workflow runner) and the processes' logging, shared by the API and the worker;
``client.cycles``, the typed calls into the workflows (imported from there: it imports them)."""

from client.codec import EncryptionCodec, parse_keys, product_converter
from client.connection import connect, product_client
from client.logs import JsonLines, configure_logging
from client.plugin import ProductPlugin, product_plugin

__all__ = [
    "EncryptionCodec",
    "JsonLines",
    "ProductPlugin",
    "configure_logging",
    "connect",
    "parse_keys",
    "product_client",
    "product_converter",
    "product_plugin",
]
