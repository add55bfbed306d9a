"""Clustering: chunked distance kernels, K-means and k-means++, silhouette and choosing k."""

from ._distances import nearest_centers, pairwise_sqdist
from ._k_means_function import k_means
from ._kmeans import KMeans
from ._kmeans_plusplus import kmeans_plusplus
from ._minibatch import MiniBatchKMeans
from ._select_k import SelectKResult, select_k
from ._silhouette import silhouette_samples, silhouette_score

__all__ = ["KMeans", "MiniBatchKMeans", "SelectKResult", "k_means", "kmeans_plusplus", "nearest_centers", "pairwise_sqdist",
           "select_k", "silhouette_samples", "silhouette_score"]
