"""AMT-S frame interpolation, a small torch port that loads the official ``amt-s.pth`` unchanged.

Li et al., "AMT: All-Pairs Multi-Field Transforms for Efficient Frame Interpolation", CVPR 2023
(MCG-NKU/AMT, MIT licence; the copy VBench vendors in ``vbench/third_party/amt``). AMT-S: corr_radius 3,
corr_lvls 4, num_flows 3, channels [20, 32, 44, 56], skip 20 (``cfgs/AMT-S.yaml``). Module and attribute
names follow the original, so the checkpoint's keys (``feat_encoder.layer1.0.conv1.weight``,
``encoder.pyramid1.0.0.weight``, ``decoder4.convblock.2.weight``, ``update4.gru.0.weight``,
``comb_block.0.weight``...) load as they are.

Shapes: images (B, 3, H, W) in [0, 1], H and W multiples of 16; ``embt`` (B, 1, 1, 1) the time of the
frame to predict (0.5 for the midpoint).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


def resize(x: torch.Tensor, scale_factor: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=scale_factor, mode="bilinear", align_corners=False)


def warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp: sample img at (x + u, y + v), border padding (AMT ``utils/flow_utils.py``)."""
    b, _, h, w = flow.shape
    xx = torch.linspace(-1.0, 1.0, w, device=img.device).view(1, 1, 1, w).expand(b, -1, h, -1)
    yy = torch.linspace(-1.0, 1.0, h, device=img.device).view(1, 1, h, 1).expand(b, -1, -1, w)
    grid = torch.cat([xx, yy], 1).to(img)
    flow_ = torch.cat([flow[:, 0:1] / ((w - 1.0) / 2.0), flow[:, 1:2] / ((h - 1.0) / 2.0)], 1)
    grid_ = (grid + flow_).permute(0, 2, 3, 1)
    return F.grid_sample(img, grid_, mode="bilinear", padding_mode="border", align_corners=True)


def coords_grid(batch: int, ht: int, wd: int, device) -> torch.Tensor:
    """(B, 2, ht, wd) pixel coordinates, x first."""
    ys, xs = torch.meshgrid(torch.arange(ht, device=device), torch.arange(wd, device=device), indexing="ij")
    return torch.stack([xs, ys], dim=0).float()[None].repeat(batch, 1, 1, 1)


def convrelu(cin: int, cout: int, kernel: int = 3, stride: int = 1, padding: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding, bias=True), nn.PReLU(cout))


# --- the correlation-feature encoder (RAFT's small encoder, instance norm) --------------------------


class BottleneckBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes // 4, 1, padding=0)
        self.conv2 = nn.Conv2d(planes // 4, planes // 4, 3, padding=1, stride=stride)
        self.conv3 = nn.Conv2d(planes // 4, planes, 1, padding=0)
        self.relu = nn.ReLU(inplace=True)
        self.norm1, self.norm2 = nn.InstanceNorm2d(planes // 4), nn.InstanceNorm2d(planes // 4)
        self.norm3 = nn.InstanceNorm2d(planes)
        self.downsample = None
        if stride != 1:
            self.norm4 = nn.InstanceNorm2d(planes)
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride), self.norm4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.relu(self.norm2(self.conv2(y)))
        y = self.relu(self.norm3(self.conv3(y)))
        return self.relu((x if self.downsample is None else self.downsample(x)) + y)


class SmallEncoder(nn.Module):
    """(B, 3, H, W) -> (B, output_dim, H/8, W/8)."""

    def __init__(self, output_dim: int = 84) -> None:
        super().__init__()
        self.norm1 = nn.InstanceNorm2d(32)
        self.conv1 = nn.Conv2d(3, 32, 7, stride=2, padding=3)
        self.relu1 = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(BottleneckBlock(32, 32, 1), BottleneckBlock(32, 32, 1))
        self.layer2 = nn.Sequential(BottleneckBlock(32, 64, 2), BottleneckBlock(64, 64, 1))
        self.layer3 = nn.Sequential(BottleneckBlock(64, 96, 2), BottleneckBlock(96, 96, 1))
        self.conv2 = nn.Conv2d(96, output_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.norm1(self.conv1(x)))
        return self.conv2(self.layer3(self.layer2(self.layer1(x))))


# --- the context pyramid and the decoders (IFRNet blocks) --------------------------------------------


class ResBlock(nn.Module):
    """Residual block whose last ``side`` channels get extra convolutions (IFRNet)."""

    def __init__(self, channels: int, side: int) -> None:
        super().__init__()
        self.side_channels = side
        self.conv1 = convrelu(channels, channels)
        self.conv2 = convrelu(side, side)
        self.conv3 = convrelu(channels, channels)
        self.conv4 = convrelu(side, side)
        self.conv5 = nn.Conv2d(channels, channels, 3, 1, 1, bias=True)
        self.prelu = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.side_channels
        out = self.conv1(x)
        out = self.conv3(torch.cat([out[:, :-s], self.conv2(out[:, -s:])], 1))
        out = self.conv5(torch.cat([out[:, :-s], self.conv4(out[:, -s:])], 1))
        return self.prelu(x + out)


class Encoder(nn.Module):
    """Four stride-2 stages: features at 1/2, 1/4, 1/8, 1/16."""

    def __init__(self, channels: list[int]) -> None:
        super().__init__()
        self.channels = channels
        prev = 3
        for idx, ch in enumerate(channels, 1):
            self.register_module(f"pyramid{idx}", nn.Sequential(convrelu(prev, ch, 3, 2, 1), convrelu(ch, ch, 3, 1, 1)))
            prev = ch

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for idx in range(len(self.channels)):
            x = getattr(self, f"pyramid{idx + 1}")(x)
            out.append(x)
        return out


class InitDecoder(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, skip_ch: int) -> None:
        super().__init__()
        self.convblock = nn.Sequential(
            convrelu(in_ch * 2 + 1, in_ch * 2),
            ResBlock(in_ch * 2, skip_ch),
            nn.ConvTranspose2d(in_ch * 2, out_ch + 4, 4, 2, 1),
        )

    def forward(self, f0, f1, embt):
        out = self.convblock(torch.cat([f0, f1, embt.repeat(1, 1, *f0.shape[2:])], 1))
        flow0, flow1 = torch.chunk(out[:, :4], 2, 1)
        return flow0, flow1, out[:, 4:]


class IntermediateDecoder(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, skip_ch: int) -> None:
        super().__init__()
        self.convblock = nn.Sequential(
            convrelu(in_ch * 3 + 4, in_ch * 3),
            ResBlock(in_ch * 3, skip_ch),
            nn.ConvTranspose2d(in_ch * 3, out_ch + 4, 4, 2, 1),
        )

    def forward(self, ft_, f0, f1, flow0_in, flow1_in):
        out = self.convblock(torch.cat([ft_, warp(f0, flow0_in), warp(f1, flow1_in), flow0_in, flow1_in], 1))
        flow0, flow1 = torch.chunk(out[:, :4], 2, 1)
        flow0 = flow0 + 2.0 * resize(flow0_in, 2.0)
        flow1 = flow1 + 2.0 * resize(flow1_in, 2.0)
        return flow0, flow1, out[:, 4:]


class MultiFlowDecoder(nn.Module):
    """The last decoder: ``num_flows`` flow pairs, blending masks and residuals at full resolution."""

    def __init__(self, in_ch: int, skip_ch: int, num_flows: int = 3) -> None:
        super().__init__()
        self.num_flows = num_flows
        self.convblock = nn.Sequential(
            convrelu(in_ch * 3 + 4, in_ch * 3),
            ResBlock(in_ch * 3, skip_ch),
            nn.ConvTranspose2d(in_ch * 3, 8 * num_flows, 4, 2, 1),
        )

    def forward(self, ft_, f0, f1, flow0, flow1):
        n = self.num_flows
        out = self.convblock(torch.cat([ft_, warp(f0, flow0), warp(f1, flow1), flow0, flow1], 1))
        delta0, delta1, mask, img_res = torch.split(out, [2 * n, 2 * n, n, 3 * n], 1)
        flow0 = delta0 + 2.0 * resize(flow0, 2.0).repeat(1, n, 1, 1)
        flow1 = delta1 + 2.0 * resize(flow1, 2.0).repeat(1, n, 1, 1)
        return flow0, flow1, torch.sigmoid(mask), img_res


def multi_flow_combine(comb_block, img0, img1, flow0, flow1, mask, img_res, mean):
    """Warp both images with every flow pair, blend by mask, add residual and mean; average the
    ``num_flows`` candidates and add the learned combination."""
    b, c, h, w = flow0.shape
    n = c // 2
    flow0 = flow0.reshape(b * n, 2, h, w)
    flow1 = flow1.reshape(b * n, 2, h, w)
    mask = mask.reshape(b * n, 1, h, w)
    img_res = img_res.reshape(b * n, 3, h, w)
    img0 = torch.stack([img0] * n, 1).reshape(-1, 3, h, w)
    img1 = torch.stack([img1] * n, 1).reshape(-1, 3, h, w)
    mean = torch.stack([mean] * n, 1).reshape(-1, 1, 1, 1)
    warps = mask * warp(img0, flow0) + (1 - mask) * warp(img1, flow1) + mean + img_res
    warps = warps.reshape(b, n, 3, h, w)
    return warps.mean(1) + comb_block(warps.view(b, -1, h, w))


# --- all-pairs correlation and the update blocks (RAFT) ---------------------------------------------


class BidirCorrBlock:
    """All-pairs correlation of 1/8-resolution features, both directions, ``num_levels`` pooled levels."""

    def __init__(self, fmap0: torch.Tensor, fmap1: torch.Tensor, num_levels: int = 4, radius: int = 3) -> None:
        self.num_levels, self.radius = num_levels, radius
        b, dim, h, w = fmap0.shape
        corr = torch.matmul(fmap0.view(b, dim, h * w).transpose(1, 2), fmap1.view(b, dim, h * w))
        corr = corr.view(b, h, w, 1, h, w) / torch.sqrt(torch.tensor(dim).float())
        corr_t = corr.clone().permute(0, 4, 5, 3, 1, 2)
        self.pyramid = [corr.reshape(b * h * w, 1, h, w)]
        self.pyramid_t = [corr_t.reshape(b * h * w, 1, h, w)]
        for _ in range(num_levels - 1):
            self.pyramid.append(F.avg_pool2d(self.pyramid[-1], 2, stride=2))
            self.pyramid_t.append(F.avg_pool2d(self.pyramid_t[-1], 2, stride=2))

    @staticmethod
    def _sample(img: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[-2:]
        x, y = coords.split([1, 1], dim=-1)
        grid = torch.cat([2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1], dim=-1)
        return F.grid_sample(img, grid, align_corners=True)

    def __call__(self, coords0: torch.Tensor, coords1: torch.Tensor):
        r = self.radius
        coords0, coords1 = coords0.permute(0, 2, 3, 1), coords1.permute(0, 2, 3, 1)
        b, h, w, _ = coords0.shape
        d = torch.linspace(-r, r, 2 * r + 1, device=coords0.device)
        delta = torch.stack(torch.meshgrid(d, d, indexing="ij"), dim=-1).view(1, 2 * r + 1, 2 * r + 1, 2)
        out, out_t = [], []
        for i in range(self.num_levels):
            c0 = coords0.reshape(b * h * w, 1, 1, 2) / 2**i + delta
            c1 = coords1.reshape(b * h * w, 1, 1, 2) / 2**i + delta
            out.append(self._sample(self.pyramid[i], c0).view(b, h, w, -1))
            out_t.append(self._sample(self.pyramid_t[i], c1).view(b, h, w, -1))
        return (
            torch.cat(out, dim=-1).permute(0, 3, 1, 2).contiguous().float(),
            torch.cat(out_t, dim=-1).permute(0, 3, 1, 2).contiguous().float(),
        )


class SmallUpdateBlock(nn.Module):
    def __init__(self, cdim, hidden_dim, flow_dim, corr_dim, fc_dim, corr_levels=4, radius=3, scale_factor=None):
        super().__init__()
        cor_planes = corr_levels * (2 * radius + 1) ** 2
        self.scale_factor = scale_factor
        self.convc1 = nn.Conv2d(2 * cor_planes, corr_dim, 1, padding=0)
        self.convf1 = nn.Conv2d(4, flow_dim * 2, 7, padding=3)
        self.convf2 = nn.Conv2d(flow_dim * 2, flow_dim, 3, padding=1)
        self.conv = nn.Conv2d(corr_dim + flow_dim, fc_dim, 3, padding=1)
        lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)
        self.gru = nn.Sequential(
            nn.Conv2d(fc_dim + 4 + cdim, hidden_dim, 3, padding=1),
            lrelu,
            nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1),
        )
        self.feat_head = nn.Sequential(
            nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1), lrelu, nn.Conv2d(hidden_dim, cdim, 3, padding=1)
        )
        self.flow_head = nn.Sequential(
            nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1), lrelu, nn.Conv2d(hidden_dim, 4, 3, padding=1)
        )
        self.lrelu = lrelu

    def forward(self, net, flow, corr):
        net = resize(net, 1 / self.scale_factor) if self.scale_factor is not None else net
        cor = self.lrelu(self.convc1(corr))
        flo = self.lrelu(self.convf2(self.lrelu(self.convf1(flow))))
        inp = torch.cat([self.lrelu(self.conv(torch.cat([cor, flo], dim=1))), flow, net], dim=1)
        out = self.gru(inp)
        delta_net, delta_flow = self.feat_head(out), self.flow_head(out)
        if self.scale_factor is not None:
            delta_net = resize(delta_net, self.scale_factor)
            delta_flow = self.scale_factor * resize(delta_flow, self.scale_factor)
        return delta_net, delta_flow


# --- the model --------------------------------------------------------------------------------------


class AMTS(nn.Module):
    """AMT-S: predicts the frame at time ``embt`` between img0 and img1 (one iteration, as VBench runs it)."""

    def __init__(self, corr_radius=3, corr_lvls=4, num_flows=3, channels=(20, 32, 44, 56), skip_channels=20):
        super().__init__()
        self.radius, self.corr_levels, self.num_flows = corr_radius, corr_lvls, num_flows
        channels = list(channels)
        self.feat_encoder = SmallEncoder(output_dim=84)
        self.encoder = Encoder(channels)
        self.decoder4 = InitDecoder(channels[3], channels[2], skip_channels)
        self.decoder3 = IntermediateDecoder(channels[2], channels[1], skip_channels)
        self.decoder2 = IntermediateDecoder(channels[1], channels[0], skip_channels)
        self.decoder1 = MultiFlowDecoder(channels[0], skip_channels, num_flows)
        self.update4 = self._update_block(44)
        self.update3 = self._update_block(32, 2)
        self.update2 = self._update_block(20, 4)
        self.comb_block = nn.Sequential(
            nn.Conv2d(3 * num_flows, 6 * num_flows, 3, 1, 1),
            nn.PReLU(6 * num_flows),
            nn.Conv2d(6 * num_flows, 3, 3, 1, 1),
        )

    def _update_block(self, cdim: int, scale_factor=None) -> SmallUpdateBlock:
        return SmallUpdateBlock(cdim, 76, 20, 64, 68, self.corr_levels, self.radius, scale_factor)

    def _corr_lookup(self, corr_fn, coord, flow0, flow1, embt, downsample=1):
        # linear motion: the t->0 flow scaled by 1/(1-t) reaches frame 0, the t->1 flow by 1/t frame 1
        if downsample != 1:
            flow0 = resize(flow0, 1 / downsample) / downsample
            flow1 = resize(flow1, 1 / downsample) / downsample
        corr0, corr1 = corr_fn(coord + flow1 * (1.0 / embt), coord + flow0 * (1.0 / (1.0 - embt)))
        return torch.cat([corr0, corr1], dim=1), torch.cat([flow0, flow1], dim=1)

    def _refine(self, update, corr_fn, coord, flow0, flow1, ft, embt, downsample):
        corr, flow = self._corr_lookup(corr_fn, coord, flow0, flow1, embt, downsample)
        delta_ft, delta_flow = update(ft, flow, corr)
        d0, d1 = torch.chunk(delta_flow, 2, 1)
        return flow0 + d0, flow1 + d1, ft + delta_ft

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor) -> torch.Tensor:
        mean = torch.cat([img0, img1], 2).mean(1, keepdim=True).mean(2, keepdim=True).mean(3, keepdim=True)
        img0, img1 = img0 - mean, img1 - mean
        b, _, h, w = img0.shape
        coord = coords_grid(b, h // 8, w // 8, img0.device)
        fmap0, fmap1 = torch.split(self.feat_encoder(torch.cat([img0, img1], 0)), [b, b], dim=0)  # (B, 84, H/8, W/8)
        corr_fn = BidirCorrBlock(fmap0, fmap1, radius=self.radius, num_levels=self.corr_levels)
        f0_1, f0_2, f0_3, f0_4 = self.encoder(img0)  # 1/2, 1/4, 1/8, 1/16
        f1_1, f1_2, f1_3, f1_4 = self.encoder(img1)
        flow0, flow1, ft = self.decoder4(f0_4, f1_4, embt)  # at 1/8
        flow0, flow1, ft = self._refine(self.update4, corr_fn, coord, flow0, flow1, ft, embt, 1)
        flow0, flow1, ft = self.decoder3(ft, f0_3, f1_3, flow0, flow1)  # at 1/4
        flow0, flow1, ft = self._refine(self.update3, corr_fn, coord, flow0, flow1, ft, embt, 2)
        flow0, flow1, ft = self.decoder2(ft, f0_2, f1_2, flow0, flow1)  # at 1/2
        flow0, flow1, ft = self._refine(self.update2, corr_fn, coord, flow0, flow1, ft, embt, 4)
        flow0, flow1, mask, img_res = self.decoder1(ft, f0_1, f1_1, flow0, flow1)  # full resolution
        return torch.clamp(multi_flow_combine(self.comb_block, img0, img1, flow0, flow1, mask, img_res, mean), 0, 1)


def load_amt_s(path: str | Path, device: str = "cpu") -> AMTS:
    """The official ``amt-s.pth`` ({"state_dict": ...} or a bare state dict), loaded with weights_only."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    model = AMTS()
    model.load_state_dict(state)  # strict: a key-name mismatch is an error, never a silent partial load
    return model.to(device).eval()


def pad_to(x: torch.Tensor, divisor: int = 16) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Replicate-pad (B, C, H, W) to multiples of ``divisor``, split evenly (AMT's ``InputPadder``)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % divisor, (-w) % divisor
    pad = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    return F.pad(x, pad, mode="replicate"), pad


def unpad(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    left, right, top, bottom = pad
    h, w = x.shape[-2:]
    return x[..., top : h - bottom, left : w - right]
