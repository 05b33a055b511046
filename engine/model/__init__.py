"""L1 pure core: the data Podium works on (flows, executions, task runs), as plain records."""
