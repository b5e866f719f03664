"""Every side effect of the product: one class per outside system, its methods the activities."""
