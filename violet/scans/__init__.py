"""The upstream scan builder: close-price panel -> scans (vel_div, prices, scores, factors) + universe."""
