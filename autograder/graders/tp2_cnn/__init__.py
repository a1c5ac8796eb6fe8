"""Grader of RDFIA lab 1-cd: conv arithmetic, the CIFAR-10 CNN, its training loop, data pipeline, ablations."""
