"""dilpose: a reproducible implementation of "An Effective 3D Human Pose Estimation Method Based on
Dilated Convolutions for Videos" (Liu & Ren).

Importing the package has no side effects: submodules are imported on use
(``from dilpose import camera, skeleton``).
"""

__version__ = "0.1.0"
