import RollbackService from '../../src/index.js';

const rollbackService = new RollbackService(
  process.env.SUPABASE_URL!,
  process.env.SUPABASE_SERVICE_ROLE_KEY!
);

const result = await rollbackService.executeRollback(
  'deployment-uuid',
  'Critical bug in payment flow',
  'user-uuid' // Optional
);

if (result.success) {
  console.log('✅ Rollback successful');
  console.log('Target:', result.target_deployment);
} else {
  console.error('❌ Rollback failed:', result.error);
}
