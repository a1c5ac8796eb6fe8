"""Grader of RDFIA lab 1-ab: MLP by hand, autograd, torch.nn, torch.optim, SVM."""
