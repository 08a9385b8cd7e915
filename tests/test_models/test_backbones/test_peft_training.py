"""A few iterations of the real mmengine Runner with each PEFT baseline in
a detector, a segmentor or a classifier of its family: losses finite, frozen
weights and BN statistics bit-identical to the loaded checkpoint, every
method parameter moved."""
import pytest
import torch

from mmprotune.testing.runner_cases import Snapshot, train_frozen

pytestmark = pytest.mark.slow

# (Runner case of mmprotune.testing.runner_cases, prompt_cfg): each method
# once per family, detectors, segmentors and classifiers covered
PEFT_CASES = {
    'mmdet-retinanet-resnet-BitFit': ('mmdet-retinanet-resnet',
                                      dict(type='BitFit')),
    'mmdet-retinanet-resnet-LoRA': ('mmdet-retinanet-resnet',
                                    dict(type='LoRA', rank=2,
                                         targets=['conv1x1', 'conv3x3'])),
    'mmseg-fcn-resnetv1c-ConvAdapter': ('mmseg-fcn-resnetv1c',
                                        dict(type='ConvAdapter')),
    'mmseg-fcn-resnetv1c-Mona': ('mmseg-fcn-resnetv1c',
                                 dict(type='Mona', hidden_channels=4)),
    'mmdet-retinanet-swin-AdaptFormer': ('mmdet-retinanet-swin',
                                         dict(type='AdaptFormer',
                                              hidden_channels=4)),
    'mmdet-retinanet-swin-Mona': ('mmdet-retinanet-swin',
                                  dict(type='Mona', hidden_channels=4)),
    'mmseg-upernet-swin-BitFit': ('mmseg-upernet-swin', dict(type='BitFit')),
    'mmseg-upernet-swin-LoRA': ('mmseg-upernet-swin',
                                dict(type='LoRA', rank=2)),
    # the tokens get a gradient from the 2nd iteration (the gates start at 0)
    'mmseg-upernet-swin-VPT': ('mmseg-upernet-swin',
                               dict(type='VPT', num_tokens=4)),
    'mmpretrain-classifier-resnetv1d-ConvAdapter': (
        'mmpretrain-classifier-resnetv1d', dict(type='ConvAdapter')),
    'mmpretrain-classifier-swin-VPT': ('mmpretrain-classifier-swin',
                                       dict(type='VPT', num_tokens=4)),
    'mmpretrain-classifier-swin-Mona': ('mmpretrain-classifier-swin',
                                        dict(type='Mona', hidden_channels=4)),
    # MobileNetV2: the Runner reverts mmseg's SyncBN (hooked by BitFit)
    'mmseg-fcn-mobilenetv2-BitFit': ('mmseg-fcn-mobilenetv2',
                                     dict(type='BitFit')),
    'mmdet-retinanet-mobilenetv2-LoRA': ('mmdet-retinanet-mobilenetv2',
                                         dict(type='LoRA', rank=2)),
    'mmpretrain-classifier-mobilenetv2-ConvAdapter': (
        'mmpretrain-classifier-mobilenetv2', dict(type='ConvAdapter')),
    'mmseg-fcn-mobilenetv2-Mona': ('mmseg-fcn-mobilenetv2',
                                   dict(type='Mona', hidden_channels=4)),
}


@pytest.mark.parametrize('name', sorted(PEFT_CASES))
def test_runner_trains_method_parameters_only(name, data, tmp_path):
    case, prompt_cfg = PEFT_CASES[name]
    snapshot = Snapshot()
    runner = train_frozen(case, data, tmp_path, prompt_cfg, snapshot)
    state = runner.model.state_dict()
    method_keys = [k for k in state if k.startswith('backbone.prompts.')]
    assert method_keys
    for key in method_keys:
        assert not torch.equal(state[key], snapshot.state[key]), key
