"""Grader of RecVis assignment 2: a numpy two-layer net with gradient checking, CNN blocks, a ConvNet."""
