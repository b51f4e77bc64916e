# The `smoke` benchmark: real RepPoints (moment transform, FPN-GN, GN head, focal loss, point and
# max-IoU assigners) shrunk to learn the synthetic shapes on 2 CPU cores in about 2 minutes:
# ResNet-18 without DCN, trained from scratch with trainable BatchNorm, 64-channel neck and head,
# one stacked conv.
_base_ = './reppoints-r101-dcn_synthetic.py'

channels = 64

model = dict(
    backbone=dict(depth=18, dcn=None, stage_with_dcn=(False, False, False, False), frozen_stages=-1,
                  norm_eval=False),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=channels),
    bbox_head=dict(in_channels=channels, feat_channels=channels, point_feat_channels=channels, stacked_convs=1),
    # Early in training every score can sit under 0.05; a lower threshold keeps the curve visible.
    test_cfg=dict(score_thr=0.01))

optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=50),
    dict(type='MultiStepLR', begin=0, end=100, by_epoch=True, milestones=[16], gamma=0.1),
]
default_hooks = dict(logger=dict(interval=4))
