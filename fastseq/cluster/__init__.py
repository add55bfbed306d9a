"""Clustering: chunked distance kernels, K-means and k-means++."""

from ._distances import nearest_centers, pairwise_sqdist
from ._kmeans import KMeans
from ._kmeans_plusplus import kmeans_plusplus

__all__ = ["KMeans", "kmeans_plusplus", "nearest_centers", "pairwise_sqdist"]
