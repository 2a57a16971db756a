"""The container images of this release (``images/``, built and tagged by ``build.sh``).

Every component is declared on one of them, and the cluster settings default to them; a run picks
others with ``AUTOML_VIDEO_IMAGE`` / ``AUTOML_VIDEO_GPU_IMAGE`` or ``--image`` / ``--gpu-image``.
"""

from automl_video import __version__

IMAGE_REPOSITORY = "ghcr.io/automl-video"
CPU_IMAGE = f"{IMAGE_REPOSITORY}/automl-video-cpu:{__version__}"
GPU_IMAGE = f"{IMAGE_REPOSITORY}/automl-video-gpu:{__version__}"
