# The mission's config, adapted to the harness's synthetic shapes dataset (harness.synth) and to
# CPUs; the model is unchanged here. The smoke benchmarks derive from this file.
# The harness's generated run config adds data_root, epochs, batch size and seed.
_base_ = 'mmdet::reppoints/reppoints-moment_r101-dconv-c3-c5_fpn-gn_head-gn_2x_coco.py'

image_size = (96, 96)  # the synthetic images' size: [synthetic] image_size in the benchmark specs
classes = ('square', 'disc', 'triangle')  # harness.synth.CATEGORIES, in id order

model = dict(
    backbone=dict(init_cfg=None),  # from scratch: no download of torchvision://resnet101
    bbox_head=dict(num_classes=len(classes)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
# Few cores: loading in the main process is cheaper than worker processes.
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(metainfo=dict(classes=classes), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(metainfo=dict(classes=classes), pipeline=test_pipeline))
test_dataloader = val_dataloader

# From-scratch runs are steadier with the gradient clipping the base config lacks.
optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))
# Two, not one: mmengine deletes the oldest kept checkpoint before it writes the new one, so with one kept a
# run killed while saving (a Slurm time limit, SIGKILL) is left with no checkpoint to resume from.
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2))
