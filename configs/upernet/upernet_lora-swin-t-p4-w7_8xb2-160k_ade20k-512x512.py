# PEFT baseline: LoRA (rank 8, alpha 16) on the attention and FFN linears of
# the frozen ImageNet-1k Swin-T, instead of Pro-tuning's prompt blocks; the
# rest (UPerHead, auxiliary head, optimiser, schedule) is the Pro-tuning
# config's, so the two compare on equal terms.
_base_ = './upernet_protune-swin-t-p4-w7_8xb2-160k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        prompt_cfg=dict(
            _delete_=True,
            type='LoRA',
            rank=8,
            alpha=16,
            targets=('qkv', 'proj', 'ffn'))))
