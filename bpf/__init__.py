"""The BPF C sources that backends/ebpf assembles and BCC compiles, installed as
package data of `gotui.bpf` and read through importlib.resources."""
