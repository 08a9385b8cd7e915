"""tools/slurm_train.sh and tools/slurm_test.sh, run end to end with
stand-in ``srun`` and ``scontrol`` commands on PATH.

The stand-in ``srun`` starts ``--ntasks`` processes on this machine with the
variables a real ``srun`` sets for each task (SLURM_PROCID, SLURM_LOCALID,
SLURM_NTASKS, SLURM_NODELIST, SLURM_JOB_ID, ...), and records its argv; the
stand-in ``scontrol`` expands the node list, as mmengine's slurm launcher asks
it to. Two CPU processes train a Pro-tuning FCN over gloo with DDP's
``find_unused_parameters=False``, and two evaluate the checkpoint.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmseg.models import ResNet

from mmprotune.datasets import make_ade20k_shapes
from mmprotune.testing import (repo_env, tiny_config, tool_command,
                               write_pretrained_checkpoint)
from mmprotune.testing.distributed import (checkpoint_state, ddp_config,
                                           free_port, prompt_up_weights)
from mmprotune.utils.launch import export_slurm_rank

REPO = Path(__file__).parents[2]
CONFIG = ('configs/transfer/'
          'fcn_protune-r18-w16-d8_1xb16-500i_shapes-ade20k-64x64.py')
NODE = 'localhost'
NUM_VAL = 4

SRUN = '''\
#!{python}
"""Stand-in for Slurm's srun on one node: start --ntasks copies of the
command with the variables srun gives each task; log argv, then the tasks'
exit codes."""
import json, os, subprocess, sys, time

argv = sys.argv[1:]
with open({log!r}, 'a') as f:
    f.write(json.dumps(dict(srun=argv)) + '\\n')
opts, i = {{}}, 0
while i < len(argv) and argv[i].startswith('-'):
    name, eq, value = argv[i].partition('=')
    if not eq and name in ('-p', '-J', '-n', '-N', '-c', '-t', '-w'):
        i += 1
        value = argv[i]
    opts[name] = value
    i += 1
ntasks = int(opts.get('--ntasks', opts.get('-n', 1)))
if ntasks > int(opts.get('--ntasks-per-node', ntasks)):
    sys.exit('stand-in srun: one node only')
job = dict(
    SLURM_JOB_ID='4242', SLURM_JOBID='4242', SLURM_STEP_ID='0',
    SLURM_JOB_NAME=opts.get('--job-name', 'srun'),
    SLURM_JOB_PARTITION=opts.get('--partition', 'default'),
    SLURM_NTASKS=str(ntasks), SLURM_NPROCS=str(ntasks),
    SLURM_NNODES='1', SLURM_JOB_NUM_NODES='1', SLURM_NODEID='0',
    SLURM_NODELIST={node!r}, SLURM_JOB_NODELIST={node!r},
    SLURM_STEP_NODELIST={node!r}, SLURMD_NODENAME={node!r},
    SLURM_TASKS_PER_NODE=str(ntasks),
    SLURM_CPUS_PER_TASK=opts.get('--cpus-per-task', '1'))
procs = [
    subprocess.Popen(argv[i:], env=dict(os.environ, **job,
                                        SLURM_PROCID=str(rank),
                                        SLURM_LOCALID=str(rank)))
    for rank in range(ntasks)]
while any(p.poll() is None for p in procs):
    if opts.get('--kill-on-bad-exit') == '1' and any(p.poll()
                                                     for p in procs):
        for p in procs:
            if p.poll() is None:
                p.kill()
    time.sleep(0.2)
codes = [p.returncode for p in procs]
with open({log!r}, 'a') as f:
    f.write(json.dumps(dict(returncodes=codes)) + '\\n')
sys.exit(max(abs(c) for c in codes))
'''

SCONTROL = '''\
#!{python}
"""Stand-in for Slurm's scontrol: only `show hostname[s] LIST`, for a
comma-separated LIST (no bracket ranges)."""
import json, sys

args = sys.argv[1:]
with open({log!r}, 'a') as f:
    f.write(json.dumps(dict(scontrol=args)) + '\\n')
if len(args) != 3 or args[:2] not in (['show', 'hostname'],
                                      ['show', 'hostnames']):
    sys.exit(f'stand-in scontrol: unsupported arguments {{args}}')
print('\\n'.join(args[2].split(',')))
'''


class StandIns:
    """``srun`` and ``scontrol`` stand-ins in ``folder/bin``, logging to
    ``folder/slurm_log.jsonl``."""

    def __init__(self, folder: Path):
        self.bin, self.log = folder / 'bin', folder / 'slurm_log.jsonl'
        self.bin.mkdir()
        for name, text in (('srun', SRUN), ('scontrol', SCONTROL)):
            path = self.bin / name
            path.write_text(
                text.format(python=sys.executable, node=NODE,
                            log=str(self.log)))
            path.chmod(0o755)

    def run(self, script: str, *args, cwd=None, **env: str):
        """Run a repository ``script`` with ``args``, the stand-ins first on
        PATH and ``env`` set (any Slurm / torch.distributed variables of
        this process removed); return ``(returncode, output, records)``,
        ``records`` being what the stand-ins logged during the run."""
        start = len(self.records())
        environ = repo_env(
            PATH=f'{self.bin}{os.pathsep}{os.environ["PATH"]}',
            OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
        for key in list(environ):
            if key.startswith('SLURM') or key in (
                    'MASTER_ADDR', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
                del environ[key]
        environ.update(env)
        proc = subprocess.run(
            tool_command(script, *args), cwd=cwd, env=environ,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            timeout=300)
        return proc.returncode, proc.stdout, self.records()[start:]

    def records(self) -> list:
        """Everything the stand-ins logged so far, one dict a call."""
        if not self.log.exists():
            return []
        lines = self.log.read_text().splitlines()
        return [json.loads(line) for line in lines]


@pytest.fixture(scope='module')
def slurm(tmp_path_factory):
    return StandIns(tmp_path_factory.mktemp('slurm'))


def srun_calls(records: list) -> list:
    """``(argv, task exit codes)`` of each stand-in ``srun`` call logged."""
    argvs = [r['srun'] for r in records if 'srun' in r]
    codes = [r['returncodes'] for r in records if 'returncodes' in r]
    return list(zip(argvs, codes + [None] * (len(argvs) - len(codes))))


@pytest.fixture(scope='module')
def trained(slurm, tmp_path_factory):
    """A tiny Pro-tuning FCN trained 2 iterations by 2 ranks through
    ``tools/slurm_train.sh``, from a seeded pretrained ResNet-18."""
    root = tmp_path_factory.mktemp('slurm_train')
    make_ade20k_shapes(str(root / 'data'), 4, NUM_VAL, img_size=64)
    pretrained = write_pretrained_checkpoint(
        ResNet(depth=18, stem_channels=16, base_channels=16),
        root / 'resnet18.pth')
    source = Config.fromfile(str(REPO / CONFIG))
    cfg = ddp_config(
        tiny_config(source, str(root / 'data'), str(root / 'unused'),
                    max_iters=2, checkpoint=str(root / 'resnet18.pth')), 2)
    # evaluate the checkpoint on the validation images afterwards
    cfg.test_dataloader = source.test_dataloader
    cfg.test_dataloader.dataset.data_root = str(root / 'data')
    cfg.test_dataloader.batch_size = 1
    cfg.test_evaluator, cfg.test_cfg = source.test_evaluator, source.test_cfg
    cfg.dump(str(root / 'config.py'))
    work_dir = root / 'work'
    rc, out, records = slurm.run(
        'tools/slurm_train.sh', 'gpu-test', 'protune-slurm',
        root / 'config.py', work_dir, '--cfg-options',
        'train_dataloader.batch_size=2', cwd=root, GPUS='2',
        GPUS_PER_NODE='2', CPUS_PER_TASK='1',
        SRUN_ARGS='--qos=debug --time=00:10:00',
        MASTER_PORT=str(free_port()), PYTHON=sys.executable)
    return dict(root=root, work_dir=work_dir, rc=rc, out=out,
                records=records, pretrained=pretrained)


@pytest.mark.slow
def test_slurm_train(trained):
    assert trained['rc'] == 0, trained['out'][-5000:]
    out, work_dir = trained['out'], trained['work_dir']
    assert 'Distributed launcher: slurm' in out
    assert 'GPU number: 2' in out  # the world size
    assert 'Iter(train) [2/2]' in out
    # both ranks ran, their master address asked of scontrol
    ((argv, codes), ) = srun_calls(trained['records'])
    assert codes == [0, 0]
    hostnames = [r['scontrol'] for r in trained['records'] if 'scontrol' in r]
    assert hostnames == [['show', 'hostname', NODE]] * 2
    # what srun was asked for, and the command it ran
    for option in ('--partition=gpu-test', '--job-name=protune-slurm',
                   '--gres=gpu:2', '--ntasks=2', '--ntasks-per-node=2',
                   '--cpus-per-task=1', '--kill-on-bad-exit=1',
                   '--qos=debug', '--time=00:10:00'):
        assert option in argv, argv
    command = argv[argv.index(sys.executable):]
    assert command[:3] == [sys.executable, '-u', str(REPO / 'tools/train.py')]
    assert command[3:] == [
        str(trained['root'] / 'config.py'), f'--work-dir={work_dir}',
        '--launcher=slurm', '--cfg-options', 'train_dataloader.batch_size=2'
    ]
    # one consistent checkpoint: prompts trained, frozen weights and BN
    # statistics bit-identical to the pretrained ones
    state = checkpoint_state(work_dir / 'iter_2.pth')
    assert any(p.abs().sum() > 0 for p in prompt_up_weights(state))
    for key, value in trained['pretrained'].items():
        assert torch.equal(state[f'backbone.{key}'], value), key


@pytest.mark.slow
def test_slurm_test(trained, slurm):
    assert trained['rc'] == 0, 'training failed'
    root = trained['root']
    checkpoint = trained['work_dir'] / 'iter_2.pth'
    rc, out, records = slurm.run(
        'tools/slurm_test.sh', 'gpu-test', 'protune-eval', root / 'config.py',
        checkpoint, '--work-dir', root / 'test', '--out', root / 'maps',
        cwd=root, GPUS='2', GPUS_PER_NODE='2', CPUS_PER_TASK='1',
        MASTER_PORT=str(free_port()), PYTHON=sys.executable)
    assert rc == 0, out[-5000:]
    assert 'Distributed launcher: slurm' in out and 'mIoU' in out
    assert len(list((root / 'maps').glob('*.png'))) == NUM_VAL
    ((argv, codes), ) = srun_calls(records)
    assert codes == [0, 0]
    assert '--job-name=protune-eval' in argv and '--ntasks=2' in argv
    command = argv[argv.index(sys.executable):]
    assert command[2:6] == [
        str(REPO / 'tools/test.py'), str(root / 'config.py'),
        str(checkpoint), '--launcher=slurm'
    ]


@pytest.mark.parametrize(
    'env, expected', [
        (dict(), ['--gres=gpu:8', '--ntasks=8', '--ntasks-per-node=8',
                  '--cpus-per-task=5']),
        (dict(GPUS='16', SRUN_ARGS='-w node1 --exclusive'),
         ['--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8', '-w',
          'node1', '--exclusive']),
        (dict(GPUS='1', CPUS_PER_TASK='2'),
         ['--gres=gpu:1', '--ntasks=1', '--ntasks-per-node=1',
          '--cpus-per-task=2']),
    ],
    ids=['defaults', 'two-nodes', 'fewer-gpus-than-a-node'])
def test_srun_options(slurm, tmp_path, env, expected):
    """What srun is asked for (PYTHON=true: the tasks do nothing)."""
    bin_only = dict(env, PYTHON='true')
    rc, out, records = slurm.run('tools/slurm_train.sh', 'p', 'j', 'c.py',
                                 'w', cwd=tmp_path, **bin_only)
    # the stand-in runs one node only
    assert rc == 0 or 'one node only' in out, out
    ((argv, _), ) = srun_calls(records)
    for option in expected:
        assert option in argv, argv


@pytest.mark.slow
def test_slurm_launcher_outside_srun(slurm, tmp_path):
    """``--launcher slurm`` in a process srun did not start: a clear error
    naming the missing variables."""
    rc, out, _ = slurm.run('tools/train.py', REPO / CONFIG, '--launcher',
                           'slurm', cwd=tmp_path)
    assert rc != 0
    assert ('not set: SLURM_PROCID, SLURM_NTASKS, SLURM_NODELIST. Start the '
            'tool with tools/slurm_train.sh') in out, out[-3000:]


@pytest.mark.parametrize('env, message', [
    (dict(GPUS='two'), "GPUS must be a positive integer, got 'two'"),
    (dict(CPUS_PER_TASK='0'), "CPUS_PER_TASK must be a positive integer"),
])
def test_bad_counts(slurm, tmp_path, env, message):
    rc, out, records = slurm.run('tools/slurm_test.sh', 'p', 'j', 'c.py',
                                 'x.pth', cwd=tmp_path, **env)
    assert rc != 0 and message in out, out
    assert not srun_calls(records)


def test_usage(slurm, tmp_path):
    rc, out, _ = slurm.run('tools/slurm_train.sh', 'p', 'j', 'c.py',
                           cwd=tmp_path)
    assert rc != 0
    assert 'usage: ' in out and 'PARTITION JOB_NAME CONFIG WORK_DIR' in out


def test_export_slurm_rank(slurm, monkeypatch, tmp_path):
    """Without CUDA, Slurm's variables become torch.distributed's as
    mmengine's slurm launcher sets them; a failing ``scontrol`` is named."""
    for key in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE',
                'LOCAL_RANK'):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv('PATH', str(slurm.bin))
    task = dict(SLURM_PROCID='3', SLURM_LOCALID='1', SLURM_NTASKS='4',
                SLURM_NODELIST='localhost,node2')
    for key, value in task.items():
        monkeypatch.setenv(key, value)
    export_slurm_rank()
    assert {key: os.environ[key] for key in (
        'RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')} \
        == dict(RANK='3', LOCAL_RANK='1', WORLD_SIZE='4',
                MASTER_ADDR='localhost', MASTER_PORT='29500')

    monkeypatch.delenv('MASTER_ADDR')
    monkeypatch.setenv('PATH', str(tmp_path))  # no scontrol
    with pytest.raises(RuntimeError, match=r'`scontrol show hostname '
                       r'localhost,node2` \(SLURM_NODELIST\) failed'):
        export_slurm_rank()
