from .sampler import CoLLMNASSampler

__all__ = ["CoLLMNASSampler"]
