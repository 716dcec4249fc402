"""The end-to-end pipeline: synth → adapt → eval → report → leaderboard."""
