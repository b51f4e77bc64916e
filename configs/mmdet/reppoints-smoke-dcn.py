# The `smoke-dcn` benchmark: the mission's exact architecture (RepPoints moment, ResNet-101 with
# DCN in stages c3-c5, FPN-GN, GN head) for a few iterations on synthetic images, so every CI run
# exercises mmcv's compiled deformable convolutions, forward and backward. It is not meant to learn.
_base_ = './reppoints-r101-dcn_synthetic.py'

# An untrained detector scores everything low; keep its detections so COCO evaluation runs.
model = dict(test_cfg=dict(score_thr=0.0))
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=4)]
default_hooks = dict(logger=dict(interval=1))
