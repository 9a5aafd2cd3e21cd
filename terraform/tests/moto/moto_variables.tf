# Declared in a primary file: an override file may only override what exists.
variable "moto_endpoint" {
  description = "URL of the local moto server, e.g. http://127.0.0.1:5000."
  type        = string
}
