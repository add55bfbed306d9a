"""Clustering: chunked distance kernels (and, built on them, K-means)."""

from ._distances import nearest_centers, pairwise_sqdist

__all__ = ["nearest_centers", "pairwise_sqdist"]
