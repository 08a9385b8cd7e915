"""Count total and trainable parameters of configs, by model part, as the
markdown table of configs/README.md (its result column stays empty until measured).

Example:
    python tools/analysis_tools/count_params.py configs/mask-rcnn/*.py
"""
import argparse
from pathlib import Path

from mmengine.config import Config
from mmengine.logging import MMLogger

from mmprotune.utils import build_model, count_parameters


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+', help='config files')
    return parser.parse_args()


def main():
    args = parse_args()
    # the builds' init messages would mix with the table on stdout
    MMLogger.get_instance('count_params', log_level='WARNING')
    print('| config | trainable | total | trainable % | backbone trainable '
          '| neck + heads | COCO box AP / ADE20K mIoU |')
    print('| --- | ---: | ---: | ---: | ---: | ---: | :---: |')
    for config in args.configs:
        counts = count_parameters(build_model(Config.fromfile(config)))
        total, trainable = counts['all']['total'], counts['all']['trainable']
        backbone = (counts['backbone.prompts']['trainable'] +
                    counts['backbone (trainable)']['trainable'])
        rest = counts['neck']['trainable'] + counts['heads']['trainable']
        print(f'| [{Path(config).stem}]({config}) | {trainable / 1e6:.2f} M '
              f'| {total / 1e6:.2f} M | {100 * trainable / total:.1f}% '
              f'| {backbone / 1e6:.2f} M | {rest / 1e6:.2f} M | |')


if __name__ == '__main__':
    main()
