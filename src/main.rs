fn main() {
    std::process::exit(aiaudit::cli::main());
}
