from setuptools import find_packages, setup


def get_version():
    scope = {}
    with open('mmprotune/version.py', encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmprotune',
    version=get_version(),
    description='Pro-tuning: prompt tuning of frozen backbones for '
    'mmdetection 3.x, mmsegmentation 1.x and mmpretrain 1.x',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    python_requires='>=3.8',
    # what the code needs; the versions it is tested with are pinned in
    # requirements/constraints.txt (tools/install.sh installs those)
    install_requires=[
        # torch.get_autocast_dtype(device), torch.is_autocast_enabled(device)
        'torch>=2.4',
        'mmengine>=0.10.0,<1.0.0',
        'mmcv>=2.0.0,<2.2.0',
        'mmdet>=3.0.0,<3.4.0',
        'mmsegmentation>=1.0.0,<1.3.0',
        'ftfy',
        'regex',
        'pycocotools',
        'numpy',
        'pillow',
        # the transfer benchmark's t intervals (also required by mmdet)
        'scipy',
    ],
    extras_require=dict(
        # the mmpretrain wrappers (ProTune* in mmpretrain's scope) register
        # only where it is installed; it also needs torchvision
        mmpretrain=['mmpretrain>=1.0.0,<1.3.0'],
        tests=['pytest>=7', 'matplotlib', 'mmpretrain>=1.0.0,<1.3.0']),
    license='Apache License 2.0',
    zip_safe=False,
)
