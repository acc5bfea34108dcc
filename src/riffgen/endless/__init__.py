"""riffgen.endless"""
