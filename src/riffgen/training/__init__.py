"""riffgen.training"""
