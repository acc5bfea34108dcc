"""riffgen.server"""
