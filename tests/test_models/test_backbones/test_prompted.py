"""Clear errors for a wrong ``prompt_cfg`` or a pretrained checkpoint that
does not fit the wrapped backbone."""
import pytest
import torch
from mmdet.models.backbones import ResNet as DetResNet
from mmdet.models.backbones import SwinTransformer as DetSwin
from mmpretrain.models.backbones import SwinTransformer as ClsSwin

from mmprotune.engine.delta import split_delta
from mmprotune.models import (ClsProTuneSwinTransformer,
                              ClsProTuneVisionTransformer, ProTuneResNet,
                              ProTuneResNetV1c, ProTuneSwinTransformer,
                              SegProTuneSwinTransformer)
from mmprotune.models.peft.base import StageBlock
from mmprotune.testing import write_pretrained_checkpoint

RESNET = dict(depth=18, base_channels=8)
SWIN = dict(embed_dims=16, depths=(1, 1), num_heads=(1, 2), strides=(4, 2),
            out_indices=(0, 1), window_size=4)
CLS_SWIN = dict(arch=dict(embed_dims=16, depths=(1, 1), num_heads=(1, 2)),
                window_size=4, img_size=32, out_indices=(1, ))
VIT = dict(arch=dict(embed_dims=16, num_layers=3, num_heads=2,
                     feedforward_channels=32), img_size=32, patch_size=8)


@pytest.mark.parametrize('prompt_cfg, pattern', [
    (dict(hidden_size=8), r"unknown prompt_cfg field\(s\) \['hidden_size'\]"
     r'; allowed: .*hidden_channels'),
    (dict(stages=(0, 4)), r'prompt_cfg.stages has 4; allowed: distinct ints '
     r'in \[0, 3\]'),
    (dict(stages=(-1, )), r'prompt_cfg.stages has -1'),
    (dict(stages=(1, 1)), r'repeats a stage'),
    (dict(stages=2), r'prompt_cfg.stages must be a list of distinct ints'),
    (dict(stages='0'), r'prompt_cfg.stages must be a list of distinct ints'),
    (dict(type='NoSuchBlock'), r"prompt_cfg.type='NoSuchBlock' is not a "
     r'registered tuning module; allowed: .*ConvPromptBlock'),
    (dict(type='TokenPromptBlock'), r"takes 'token' inputs but this backbone"
     r" feeds 'map' inputs; allowed: \['BitFit', 'ConvAdapter', "
     r"'ConvPromptBlock', 'LoRA', 'Mona'\]"),
    (dict(kernel_size=2), r'prompt_cfg.kernel_size must be an odd int'),
    (dict(hidden_channels=0), r'prompt_cfg.hidden_channels must be an int'),
    (dict(hidden_ratio=-1.0), r'prompt_cfg.hidden_ratio must be a number'),
])
def test_bad_prompt_cfg(prompt_cfg, pattern):
    with pytest.raises(ValueError, match=pattern):
        ProTuneResNet(**RESNET, prompt_cfg=prompt_cfg)


def test_swin_rejects_map_blocks_and_stage_out_of_range():
    with pytest.raises(ValueError, match=r"takes 'map' inputs.*allowed: "
                       r"\['AdaptFormer', 'BitFit', 'LoRA', 'Mona', "
                       r"'TokenPromptBlock', 'VPT'\]"):
        ProTuneSwinTransformer(**SWIN, prompt_cfg=dict(type='ConvPromptBlock'))
    with pytest.raises(ValueError, match=r'in \[0, 1\]'):
        SegProTuneSwinTransformer(**SWIN, prompt_cfg=dict(stages=[2]))


def test_prompt_cfg_is_not_mutated_and_selects_stages():
    prompt_cfg = dict(stages=[1, 3], hidden_ratio=0.5, kernel_size=5)
    model = ProTuneResNet(**RESNET, prompt_cfg=prompt_cfg)
    assert prompt_cfg == dict(stages=[1, 3], hidden_ratio=0.5, kernel_size=5)
    assert list(model.prompts) == ['1', '3']
    assert model.prompts['1'].hidden_channels == 8  # 16 channels * 0.5
    assert model.prompts['3'].dw.kernel_size == (5, 5)


def test_empty_stages_is_a_frozen_backbone_without_prompts():
    model = ProTuneResNet(**RESNET, prompt_cfg=dict(stages=[]))
    assert len(model.prompts) == 0
    assert not any(p.requires_grad for p in model.parameters())
    upstream = DetResNet(**RESNET)
    upstream.load_state_dict(
        {k: v for k, v in model.state_dict().items()})
    upstream.eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        for out, ref in zip(model.train()(x), upstream(x)):
            assert torch.equal(out, ref)


def _pretrained(checkpoint, **kwargs):
    return dict(type='Pretrained', checkpoint=str(checkpoint), **kwargs)


def test_bare_state_dict_loads_like_upstream(tmp_path):
    path = tmp_path / 'resnet18.pth'
    write_pretrained_checkpoint(DetResNet(**RESNET), path)
    model = ProTuneResNet(**RESNET, init_cfg=_pretrained(path))
    model.init_weights()
    state = torch.load(path)['state_dict']
    for key, value in state.items():
        assert torch.equal(model.state_dict()[key], value), key


def test_checkpoint_with_other_shapes_is_refused(tmp_path):
    path = tmp_path / 'wide.pth'
    write_pretrained_checkpoint(DetResNet(depth=18, base_channels=16), path)
    model = ProTuneResNet(**RESNET, init_cfg=_pretrained(path))
    with pytest.raises(ValueError, match=r'does not fit the backbone: .*'
                       r'with another shape.*conv1.weight: checkpoint '
                       r'\(16, 3, 7, 7\) vs model \(8, 3, 7, 7\)'):
        model.init_weights()


def test_checkpoint_with_missing_keys_is_refused(tmp_path):
    path = tmp_path / 'partial.pth'
    write_pretrained_checkpoint(DetResNet(**RESNET), path)
    state = torch.load(path)
    state['state_dict'] = {
        k: v for k, v in state['state_dict'].items()
        if not k.startswith('layer4.')}
    torch.save(state, path)
    model = ProTuneResNet(**RESNET, init_cfg=_pretrained(path))
    with pytest.raises(ValueError, match=r"missing key\(s\) \['layer4"):
        model.init_weights()


def test_detector_checkpoint_without_prefix_is_refused(tmp_path):
    path = tmp_path / 'detector.pth'
    write_pretrained_checkpoint(DetResNet(**RESNET), path, prefix='backbone.')
    model = ProTuneResNetV1c(**RESNET, init_cfg=_pretrained(path))
    with pytest.raises(ValueError, match=r"init_cfg.prefix='backbone.'"):
        model.init_weights()


def test_unreadable_checkpoint_names_the_file(tmp_path):
    missing = tmp_path / 'nowhere.pth'
    model = ProTuneResNet(**RESNET, init_cfg=_pretrained(missing))
    with pytest.raises(ValueError, match=f'checkpoint=.*{missing.name}'):
        model.init_weights()
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'not a checkpoint')
    model = ProTuneSwinTransformer(**SWIN, init_cfg=_pretrained(garbage))
    with pytest.raises(ValueError, match='garbage.pth.*failed'):
        model.init_weights()


def test_swin_bare_state_dict_is_refused_clearly(tmp_path):
    # mmdet's SwinTransformer only reads ``backbone.``-prefixed keys
    path = tmp_path / 'bare_swin.pth'
    write_pretrained_checkpoint(DetSwin(**SWIN), path)
    model = ProTuneSwinTransformer(**SWIN, init_cfg=_pretrained(path))
    with pytest.raises(ValueError, match='bare_swin.pth'):
        model.init_weights()


def test_classifier_swin_needs_its_last_norm(tmp_path):
    """mmpretrain's last output norm is part of the ImageNet network: a
    checkpoint without it is refused (the other stages' norms may be new)."""
    path = tmp_path / 'no_norm.pth'
    kwargs = dict(CLS_SWIN, out_indices=(0, 1))
    write_pretrained_checkpoint(ClsSwin(**kwargs), path)
    state = torch.load(path)
    state['state_dict'] = {k: v for k, v in state['state_dict'].items()
                           if not k.startswith('norm')}
    torch.save(state, path)
    model = ClsProTuneSwinTransformer(**kwargs, init_cfg=_pretrained(path))
    with pytest.raises(ValueError, match=r"2 missing key\(s\) \['norm1.bias', "
                       r"'norm1.weight'\]"):
        model.init_weights()


def test_classifier_swin_loads_old_norm_keys_as_upstream(tmp_path):
    """A checkpoint saved before version 2 of mmpretrain's Swin names the
    last output norm ``norm``; upstream renames it for its own class only,
    the wrapper does the same and matches it."""
    path = tmp_path / 'old_swin.pth'
    saved = write_pretrained_checkpoint(ClsSwin(**CLS_SWIN), path)
    state = torch.load(path)
    state['state_dict'] = {k.replace('norm1.', 'norm.', 1)
                           if k.startswith('norm1.') else k: v
                           for k, v in state['state_dict'].items()}
    torch.save(state, path)
    upstream = ClsSwin(**CLS_SWIN, init_cfg=_pretrained(path))
    upstream.init_weights()
    model = ClsProTuneSwinTransformer(**CLS_SWIN, init_cfg=_pretrained(path))
    model.init_weights()
    assert torch.equal(model.norm1.weight, saved['norm1.weight'])
    assert torch.equal(model.norm1.weight, upstream.norm1.weight)


def test_vit_refuses_what_cannot_reach_its_output():
    """With the class token as output, the last layer's prompt (on the patch
    tokens) would get no gradient; the hooked baselines do not apply."""
    with pytest.raises(ValueError, match=r"tunes stage\(s\) \[2\] after the "
                       r"last output stage 1 \(out_indices=\(2,\), "
                       r"out_type='cls_token'"):
        ClsProTuneVisionTransformer(**VIT, prompt_cfg=dict(stages=[1, 2]))
    model = ClsProTuneVisionTransformer(**VIT, out_type='featmap',
                                        prompt_cfg=dict(stages=[1, 2]))
    assert list(model.prompts) == ['1', '2']
    with pytest.raises(ValueError, match=r"applies to \['resnet', 'swin', "
                       r"'mobilenetv2'\] backbones, not to 'vit'; allowed: "
                       r"\['TokenPromptBlock'\]"):
        ClsProTuneVisionTransformer(**VIT, prompt_cfg=dict(type='LoRA'))


@pytest.mark.parametrize('field, bad', [
    ('placement', 'blocks'), ('placement', 'Stage'), ('placement', None),
    ('prompt_input', 'in'), ('prompt_input', True)])
def test_bad_prompt_variant(field, bad):
    allowed = dict(placement="'stage', 'block'",
                   prompt_input="'input', 'output'")[field]
    for cls, kwargs in ((ProTuneResNet, RESNET),
                        (ProTuneSwinTransformer, SWIN)):
        with pytest.raises(ValueError) as err:
            cls(**kwargs, prompt_cfg={field: bad})
        assert str(err.value) == (
            f'{cls.__name__}: prompt_cfg.{field}={bad!r} is not allowed; '
            f'allowed: {allowed}')


@pytest.mark.parametrize('method', ['LoRA', 'BitFit', 'Mona'])
@pytest.mark.parametrize('field, value', [
    ('placement', 'block'), ('placement', 'stage'), ('prompt_input', 'input'),
    ('prompt_input', 'output')])
def test_hooked_methods_refuse_prompt_variants(method, field, value):
    """A hooked PEFT method acts inside the stages: a prompt's placement
    and input mean nothing for it, whatever the value (a default
    included), and the wrapper records neither."""
    with pytest.raises(ValueError) as err:
        ProTuneResNet(**RESNET, prompt_cfg={'type': method, field: value})
    assert str(err.value) == (
        f"ProTuneResNet: prompt_cfg.{field}='{value}' applies to prompt "
        f"blocks only, but prompt_cfg.type='{method}' hooks into the frozen "
        f'layers of each stage; allowed with it: no {field}')
    model = ProTuneResNet(**RESNET, prompt_cfg={'type': method})
    assert type(model.prompts['0']).__name__ == method
    assert (model.placement, model.prompt_input) == (None, None)


def test_vit_refuses_prompt_variants():
    """A ViT stage is one encoder layer ('stage' is after every block);
    computing its prompt from the layer's input is not implemented."""
    for field, value, allowed in (('placement', 'block', "'stage'"),
                                  ('prompt_input', 'input', "'output'")):
        with pytest.raises(ValueError) as err:
            ClsProTuneVisionTransformer(**VIT, prompt_cfg={field: value})
        assert str(err.value) == (
            f'ClsProTuneVisionTransformer: prompt_cfg.{field}={value!r} is '
            f'not allowed; allowed: {allowed} ({value!r} is for the ResNet '
            'and Swin wrappers only)')


def test_prompt_keys_of_each_placement():
    """'stage' keeps the keys of a model built without the field (so every
    saved checkpoint and delta loads strictly); 'block' nests one block per
    residual block under its stage: ``prompts.<stage>.<block>.*``."""
    default = ProTuneResNet(**RESNET, prompt_cfg=dict(stages=[1, 3]))
    stage = ProTuneResNet(**RESNET, prompt_cfg=dict(
        stages=[1, 3], placement='stage', prompt_input='input'))
    stage.load_state_dict(default.state_dict(), strict=True)
    assert stage.state_dict().keys() == default.state_dict().keys()
    block = ProTuneResNet(**RESNET, prompt_cfg=dict(stages=[1, 3],
                                                    placement='block'))
    keys = {k for k in block.state_dict() if k.startswith('prompts.')}
    # ResNet-18: two residual blocks per stage
    assert keys == {f'prompts.{i}.{j}.{layer}.{p}' for i in (1, 3)
                    for j in (0, 1) for layer in ('down', 'dw', 'up')
                    for p in ('weight', 'bias')}
    assert [name for name, _ in block.tuning_modules()] == \
        ['1.0', '1.1', '3.0', '3.1']


def test_input_prompts_take_the_stage_input_channels_and_stride():
    """ResNet-18 with base width 8 and a 12-channel stem: the prompt of a
    stage (or of its first block) reads the stage input: the stem's or the
    previous stage's channels, at the stage's stride (2 for stages 1-3);
    the other blocks' prompts read the stage's own width at stride 1."""
    model = ProTuneResNet(**RESNET, stem_channels=12, prompt_cfg=dict(
        placement='block', prompt_input='input'))
    blocks = dict(model.tuning_modules())
    assert [(blocks[f'{i}.0'].down.in_channels, blocks[f'{i}.0'].dw.stride)
            for i in range(4)] == [(12, (1, 1)), (8, (2, 2)), (16, (2, 2)),
                                   (32, (2, 2))]
    assert all(blocks[f'{i}.1'].down.in_channels == 8 * 2**i and
               blocks[f'{i}.1'].dw.stride == (1, 1) for i in range(4))
    assert all(b.up.out_channels == 8 * 2**int(k[0])
               for k, b in blocks.items())


class _FixedShapeBlock(StageBlock):
    """A prompt block of one's own that only knows its stage's width."""
    input_layout = 'map'

    def __init__(self, in_channels):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.zeros(in_channels, 1, 1))

    def forward(self, x):
        return x * self.scale


@pytest.mark.parametrize('prompt_cfg', [{}, dict(prompt_input='input')])
def test_input_prompt_needs_a_block_that_takes_the_source_shape(prompt_cfg):
    """'input' (the default, or spelled out) with a block of one's own that
    only knows its stage's width: refused where a stage changes the shape
    (ResNet), fine where it does not (Swin), fine with 'output'."""
    with pytest.raises(ValueError, match=(
            r"ProTuneResNet: prompt_cfg.prompt_input='input' computes the "
            r'prompt of stage 1 from 8 channels at stride 2, which '
            r"_FixedShapeBlock cannot take \(it has no arguments \['source_"
            r"channels', 'stride'\]\); allowed: prompt_input=\"output\"")):
        ProTuneResNet(**RESNET,
                      prompt_cfg=dict(prompt_cfg, type=_FixedShapeBlock))
    model = ProTuneResNet(**RESNET, prompt_cfg=dict(
        type=_FixedShapeBlock, prompt_input='output'))
    assert len(model.prompts) == 4
    # a Swin stage's input has its output's shape: no source arguments
    model = ProTuneSwinTransformer(
        **SWIN, prompt_cfg=dict(prompt_cfg, type=_FixedTokenBlock))
    assert len(model.prompts) == 2


class _FixedTokenBlock(_FixedShapeBlock):
    input_layout = 'token'

    def forward(self, x, hw_shape):
        return x * self.scale.view(1, 1, -1)


def test_delta_split_keeps_every_block_prompt():
    """A delta checkpoint keeps exactly the prompts of a 'block' model (its
    nested keys included) and leaves out exactly the upstream backbone."""
    model = torch.nn.Module()
    model.backbone = ProTuneResNet(**RESNET, prompt_cfg=dict(
        placement='block', prompt_input='input'))
    state = model.state_dict()
    delta, frozen = split_delta(model, state)
    assert set(delta) == {k for k in state
                          if k.startswith('backbone.prompts.')}
    assert 'backbone.prompts.1.1.dw.weight' in delta
    assert set(frozen) == {'backbone.' + k
                           for k in DetResNet(**RESNET).state_dict()}


VARIANTS = [dict(), dict(placement='block'), dict(prompt_input='output'),
            dict(placement='block', prompt_input='output')]


def _prompted(entry, index, x, y, prompt_cfg, *args):
    """``y`` plus the prompt ``entry`` (``entry[index]`` with
    ``placement='block'``), computed from ``x`` (input, the default) or
    ``y`` (output)."""
    if prompt_cfg.get('placement') == 'block':
        entry = entry[index]
    source = y if prompt_cfg.get('prompt_input') == 'output' else x
    return y + entry(source, *args)


def _nonzero_prompts(model):
    torch.manual_seed(1)
    for _, block in model.tuning_modules():
        torch.nn.init.normal_(block.up.weight, std=0.1)
    return model.eval()


@pytest.mark.parametrize('prompt_cfg', VARIANTS)
def test_resnet_variants_compute_what_they_say(prompt_cfg):
    """The outputs of each variant, spelled out with the upstream blocks:
    ``y = f(x) + prompt(y or x)`` after each stage (``'stage'``) or block
    (``'block'``) ``f``."""
    model = _nonzero_prompts(ProTuneResNet(**RESNET, prompt_cfg=prompt_cfg))
    image = torch.randn(1, 3, 57, 75)
    x = model.maxpool(model.relu(model.norm1(model.conv1(image))))
    expected = []
    with torch.no_grad():
        for i, name in enumerate(model.res_layers):
            entry = model.prompts[str(i)]
            if prompt_cfg.get('placement') == 'block':
                for j, block in enumerate(getattr(model, name)):
                    x = _prompted(entry, j, x, block(x), prompt_cfg)
            else:
                x = _prompted(entry, 0, x, getattr(model, name)(x),
                              prompt_cfg)
            expected.append(x)
        for out, ref in zip(model(image), expected):
            assert torch.equal(out, ref)


@pytest.mark.parametrize('prompt_cfg', VARIANTS)
def test_swin_variants_compute_what_they_say(prompt_cfg):
    """As for ResNet, with the Swin blocks of each stage (two in stage 0)
    and the prompt before the output norm and the patch merging."""
    model = _nonzero_prompts(ProTuneSwinTransformer(
        **dict(SWIN, depths=(2, 1)), prompt_cfg=prompt_cfg))
    image = torch.randn(1, 3, 32, 32)
    expected = []
    with torch.no_grad():
        x, hw = model.patch_embed(image)
        for i, stage in enumerate(model.stages):
            entry = model.prompts[str(i)]
            if prompt_cfg.get('placement') == 'block':
                for j, block in enumerate(stage.blocks):
                    x = _prompted(entry, j, x, block(x, hw), prompt_cfg, hw)
            else:
                y = x
                for block in stage.blocks:
                    y = block(y, hw)
                x = _prompted(entry, 0, x, y, prompt_cfg, hw)
            out = getattr(model, f'norm{i}')(x)
            expected.append(out.view(1, *hw, -1).permute(0, 3, 1, 2))
            if stage.downsample:
                x, hw = stage.downsample(x, hw)
        for out, ref in zip(model(image), expected):
            assert torch.equal(out, ref)
