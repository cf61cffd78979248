"""protok.training"""
