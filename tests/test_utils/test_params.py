from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.hub import get_config

from mmprotune.utils import PARTS, build_model, count_parameters

REPO = Path(__file__).parents[2]


def tiny_retinanet():
    cfg = get_config('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py').model
    cfg.backbone = dict(type='ProTuneResNet', depth=18, base_channels=8,
                        prompt_cfg=dict(hidden_channels=4, stages=[1, 3]))
    cfg.neck.update(in_channels=[8, 16, 32, 64], out_channels=16)
    cfg.bbox_head.update(in_channels=16, feat_channels=16, stacked_convs=1)
    return build_model(Config(dict(default_scope='mmdet', model=cfg)))


def test_counts_match_an_independent_count():
    model = tiny_retinanet()
    counts = count_parameters(model)
    assert list(counts) == list(PARTS) + ['all']
    backbone = model.backbone
    prompts = sum(p.numel() for p in backbone.prompts.parameters())
    # prompt block of a stage with input channels C_in and output channels C
    # (the prompt is computed from the stage's input, added to its output):
    # 1x1 down (C_in*4 + 4), dw 3x3 (4*9 + 4), 1x1 up (4*C + C)
    assert prompts == sum(4 * C_in + 4 + 40 + 5 * C
                          for C_in, C in ((8, 16), (32, 64)))
    assert counts['backbone.prompts'] == dict(total=prompts, trainable=prompts)
    frozen = sum(p.numel() for p in backbone.parameters()) - prompts
    assert counts['backbone (frozen)'] == dict(total=frozen, trainable=0)
    neck = sum(p.numel() for p in model.neck.parameters())
    head = sum(p.numel() for p in model.bbox_head.parameters())
    assert counts['neck'] == dict(total=neck, trainable=neck)
    assert counts['heads'] == dict(total=head, trainable=head)
    assert counts['all'] == dict(
        total=frozen + prompts + neck + head, trainable=prompts + neck + head)


@pytest.mark.slow
def test_count_params_tool_prints_a_row_per_config(tool):
    configs = [
        'configs/retinanet/retinanet_head-only-r50_fpn_1x_coco.py',
        'configs/retinanet/retinanet_protune-r50_fpn_1x_coco.py'
    ]
    rc, out = tool('tools/analysis_tools/count_params.py', *configs,
                   cwd=REPO)
    assert rc == 0, out
    rows = [line for line in out.splitlines() if line.startswith('| [')]
    assert len(rows) == 2
    # head-only trains no backbone parameter; Pro-tuning 0.37 M of prompts:
    # hidden 64, stage inputs 64 + 256 + 512 + 1024 and outputs 256 + 512 +
    # 1024 + 2048 channels: 64 * 1856 + 64 * 3840 weights + 4 * 64 * 10
    # (dw and its bias, down's bias) + 3840 (up's bias) = 371200
    assert rows[0].split('|')[5].strip() == '0.00 M'
    assert rows[1].split('|')[5].strip() == '0.37 M'
