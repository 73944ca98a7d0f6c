"""Model code shared by training and inference: text handling, featurizers, heads, policy, pyfunc."""
