"""Weight clustering of a Keras 3 model through its tf_keras twin and tfmot.

    clustered = clustered_model(model, train_images, train_labels, clusters=16, epochs=2)

Every Conv2D, DepthwiseConv2D and Dense kernel is wrapped with ``cluster_weights``
(k-means++ centroids): each weight is replaced by the nearest of ``clusters``
shared values, the centroids are fine-tuned, and ``strip_clustering`` leaves a
plain tf_keras model whose kernels hold at most ``clusters`` distinct values each.
"""

from __future__ import annotations

from keras_resnet.errors import KerasResnetError

from .checks import as_number
from .fine_tune import (DEFAULT_BATCH_SIZE, check_epochs, check_learning_rate, check_training_data, fine_tune,
                        outputs_logits)

DEFAULT_CLUSTER_EPOCHS = 2
DEFAULT_CLUSTER_LEARNING_RATE = 1e-4
CLUSTERED_LAYERS = ("Conv2D", "DepthwiseConv2D", "Dense")
MAX_CLUSTERS = 256  # int8 weights take at most 256 values: more clusters cannot shrink anything


def check_clusters(clusters) -> int:
    """A whole number of clusters, 2 to ``MAX_CLUSTERS``, or a one-line error."""
    value = as_number(clusters)
    if isinstance(clusters, bool) or not value.is_integer() or not 2 <= value <= MAX_CLUSTERS:
        raise KerasResnetError(f"--cluster {clusters!r}: give a whole number of shared weight values per kernel, "
                               f"2 to {MAX_CLUSTERS} (e.g. --cluster 16)")
    return int(value)


def clustered_model(model, images, labels, *, clusters: int, epochs: int = DEFAULT_CLUSTER_EPOCHS,
                    learning_rate: float = DEFAULT_CLUSTER_LEARNING_RATE, batch_size: int = DEFAULT_BATCH_SIZE,
                    check_images=None, seed: int = 0, progress: bool = True):
    """``model`` (Keras 3 or tf_keras) with ``clusters`` shared values per kernel, fine-tuned; a stripped
    tf_keras model."""
    from .qat import to_tf_keras
    from .source import input_shape, output_classes
    from .tfmot_env import tf_keras, tfmot

    clusters = check_clusters(clusters)
    epochs = check_epochs(epochs, "--cluster-epochs")
    learning_rate = check_learning_rate(learning_rate, "--cluster-learning-rate")
    images, labels = check_training_data(images, labels, input_shape(model), output_classes(model), "clustering")
    twin = to_tf_keras(model, check_images if check_images is not None else images)
    clustering = tfmot().clustering.keras
    too_small = [layer.name for layer in twin.layers if layer.__class__.__name__ in CLUSTERED_LAYERS
                 and layer.weights and int(layer.weights[0].shape.num_elements()) < clusters]
    if too_small:
        raise KerasResnetError(f"layer '{too_small[0]}' has fewer weights than --cluster {clusters}: "
                               "use fewer clusters")

    def wrap(layer):
        if layer.__class__.__name__ in CLUSTERED_LAYERS:
            return clustering.cluster_weights(
                layer, number_of_clusters=clusters,
                cluster_centroids_init=clustering.CentroidInitialization.KMEANS_PLUS_PLUS)
        return layer

    wrapped = tf_keras().models.clone_model(twin, clone_function=wrap)  # the twin's layers, weights and all
    fine_tune(wrapped, images, labels, epochs=epochs, learning_rate=learning_rate, from_logits=outputs_logits(twin),
              batch_size=batch_size, seed=seed, progress=progress, label=f"Clustering to {clusters} values per kernel")
    return clustering.strip_clustering(wrapped)
