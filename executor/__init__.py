"""The executor process: consumes execution events, applies ``engine.executor.advance`` under a row
lock, saves, then dispatches the resulting commands after commit. The only writer of execution
state transitions.
"""
