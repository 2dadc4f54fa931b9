// The local stack's public face: the `jetgate stack` command (cli/main.ts) and the stack's ports.
export { registerStackCommands } from "./stack-command.ts";
export { STACK_PORTS, PORT_BASE_ENV, stackPorts, type StackPorts } from "./stack-settings.ts";
