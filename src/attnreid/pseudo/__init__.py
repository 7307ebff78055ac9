"""Pseudo-labels for DAAF: a person mask and 17 COCO keypoints per image (see attnreid.pseudo.run).

Imports nothing: the mediapipe worker runs this package in an environment without torch or pandas.
"""
