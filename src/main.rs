fn main() -> std::process::ExitCode {
    gw::run(std::env::args_os())
}
