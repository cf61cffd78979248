"""protok.metrics"""
