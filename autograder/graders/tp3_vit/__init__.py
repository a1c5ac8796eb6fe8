"""Grader of RDFIA lab 1-e: multi-head self-attention, transformer blocks, a Vision Transformer, timm."""
