"""protok.graph"""
