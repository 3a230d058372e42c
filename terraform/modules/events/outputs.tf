output "dlq_urls" {
  description = "URL of each dead-letter queue (task-events, reconciler)."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.id }
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "rule_arn" {
  description = "ARN of the ECS task state change rule."
  value       = aws_cloudwatch_event_rule.this.arn
}
