from .sampler import SEKISampler

__all__ = ["SEKISampler"]
